export { HttpServer, sendJson, httpStatusFor } from './http.js';
export type { RouteHandler } from './http.js';
