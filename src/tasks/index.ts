export { decideGrant, inGrant, type Grant, type GrantRequest } from './grant.js';
export { TaskError, TaskService, type StartRequest, type TaskServiceOptions } from './service.js';
