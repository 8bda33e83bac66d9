// A revert stack (the Incus habit): each step that creates something registers how to undo
// it; on failure the undos run in reverse order, on success the stack is cleared.
export type Undo = () => void | Promise<void>;

export class Revert {
  private readonly undos: { label: string; undo: Undo }[] = [];
  private done = false;

  /** Registers the undo of a step that has just succeeded. */
  add(label: string, undo: Undo): void {
    this.undos.push({ label, undo });
  }

  /** The operation succeeded: nothing is undone. */
  success(): void {
    this.done = true;
    this.undos.length = 0;
  }

  /**
   * Runs every registered undo, newest first. An undo that fails does not stop the others;
   * the failures are returned so the caller can log them with the original error.
   */
  async fail(): Promise<{ label: string; error: unknown }[]> {
    if (this.done) return [];
    this.done = true;
    const failures: { label: string; error: unknown }[] = [];
    while (this.undos.length > 0) {
      const { label, undo } = this.undos.pop()!;
      try {
        await undo();
      } catch (error) {
        failures.push({ label, error });
      }
    }
    return failures;
  }
}

/** Runs fn with a revert stack: undone when fn throws, cleared when it returns. */
export async function withRevert<T>(
  fn: (r: Revert) => Promise<T>,
  onUndoFailure?: (f: { label: string; error: unknown }) => void,
): Promise<T> {
  const r = new Revert();
  try {
    const result = await fn(r);
    r.success();
    return result;
  } catch (e) {
    for (const f of await r.fail()) onUndoFailure?.(f);
    throw e;
  }
}
