export { HttpServer, sendJson, httpStatusFor } from './http.js';
export type { RouteHandler } from './http.js';
export { mountStatus, mountModelEndpoint } from './routes.js';
export { mountReviewPage } from './review-routes.js';
export type { ReviewPageDeps } from './review-routes.js';
