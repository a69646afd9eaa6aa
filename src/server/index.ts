export { HttpServer, sendJson, httpStatusFor } from './http.js';
export type { RouteHandler } from './http.js';
export { mountStatus, mountModelEndpoint } from './routes.js';
