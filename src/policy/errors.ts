/**
 * The policy module's errors. A load error refuses a whole policy set (the caller keeps the last good
 * one); an input error refuses one request (the caller denies it: fail closed). Messages name policies,
 * files, entities and attributes, never attribute values.
 */

export interface PolicyProblem {
  /** The policy id (`@id` or `<file>:<index>`), absent for problems not tied to one policy. */
  policyId?: string;
  /** `file:line:col` of the problem when Cedar gave a location. */
  location?: string;
  message: string;
}

export type PolicyLoadErrorCode = 'policy_file' | 'policy_parse' | 'policy_invalid' | 'schema_invalid' | 'policy_duplicate_id' | 'policy_unsupported';

export class PolicyLoadError extends Error {
  override readonly name = 'PolicyLoadError';
  constructor(
    readonly code: PolicyLoadErrorCode,
    readonly problems: PolicyProblem[],
  ) {
    super(`${code}: ${problems.map(formatProblem).join('; ')}`);
  }
}

export const formatProblem = (p: PolicyProblem): string =>
  [p.location, p.policyId !== undefined && p.location === undefined ? `policy ${p.policyId}` : undefined, p.message].filter((x) => x !== undefined).join(': ');

/** A request the engine refuses to decide (malformed entities or context, or not valid for the schema). */
export class PolicyInputError extends Error {
  override readonly name = 'PolicyInputError';
  readonly code = 'policy_input';
}
