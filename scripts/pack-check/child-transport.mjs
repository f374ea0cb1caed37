// The transport the child consumer builds: a memory broker of its own (this only proves the child runs).
import { MemoryTransport } from '@org/eventbus';

export const createConformanceTransport = () => new MemoryTransport();
