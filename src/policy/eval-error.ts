/**
 * A Cedar evaluation error: the policy being evaluated is skipped (Cedar's rule) and named in the
 * decision's errors. Deliberately not an `Error`: it is thrown on the hot path, and capturing a stack
 * trace would cost more than the evaluation.
 */
export class EvalError {
  constructor(readonly message: string) {}
}
