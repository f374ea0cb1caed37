export { renderAsyncApi } from './asyncapi.js';
export { DOC_FILES, type GeneratedDocs, generateDocs, staleDocs, writeDocs } from './generate.js';
export { renderHtml } from './html.js';
export { renderMarkdown } from './markdown.js';
export { mermaidFlowchart } from './mermaid.js';
export { type DocsModel, type DocumentedEvent, documentGraph } from './model.js';
export { contractExample, contractJsonSchema, type JsonSchema, type SchemaRow, schemaRows } from './schema.js';
