export { type LiveGraphOptions, serveLiveGraph } from './live-graph-http.js';
export { type DeadLetterRecord, type EventTypeStats, type HandlerStats, type LiveSnapshot, LiveStats, type LiveStatsOptions, UNDECODED } from './live-stats.js';
