/**
 * How long stopping may take. MCP clients give a server little time once they close its stdin (the
 * SDK's stdio client sends SIGTERM after 2 s, then SIGKILL), so whatever is still closing then is cut:
 * the backend's lock goes with the process (datadir.ts), and a data dir cut while being created is
 * redone at the next start.
 */
export const STOP_DEADLINE_MS = 750;

/** Closes, then exits: 0 once closed, 1 if closing failed; at the deadline in any case. */
export function stopThenExit(close: () => Promise<void>, log: (msg: string) => void): void {
  setTimeout(() => process.exit(0), STOP_DEADLINE_MS).unref();
  close().then(
    () => process.exit(0),
    (err: Error) => {
      log(`error while stopping: ${err.message}`);
      process.exit(1);
    },
  );
}
