/** The governance console (`/console/`) and policy replay, which `warden policy replay` shares. */
export { ConsoleServer, CONSOLE_LOGIN_COOKIE, CONSOLE_SESSION_COOKIE, consoleNext } from './server.js';
export type { ConsoleServices } from './context.js';
export { roleOf, type Role } from './roles.js';
export { replayPolicy, tasksOf, type ReplayChange, type ReplayResult } from './replay.js';
export { readConsoleSecrets } from './secrets.js';
