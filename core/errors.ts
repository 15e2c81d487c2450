// A UserError is a mistake the user can fix (bad file, bad flag, wrong shape). The CLI prints its
// message as one line, without a stack trace; anything else is a bug and keeps its stack.

export class UserError extends Error {
  override name = 'UserError';
}
