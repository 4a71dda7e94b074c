/**
 * Function source in the form every backend runs. InsForge's self-hosted runtime runs a function's
 * code as the body of `new Function('exports', 'module', …)` (functions/worker-template.js): only
 * `module.exports = async function (req) {…}` works there; InsForge cloud (Deno Subhosting) and the
 * embedded backend run that form too. An ES module's single `export default <handler>` is turned
 * into it; code with other import/export statements is left as it is, with a warning.
 */
export interface RunnableSource {
  code: string;
  /** What was changed or what may not run, for the agent. */
  note?: string;
}

const EXPORT_DEFAULT = /^([ \t]*)export\s+default\s+/gm;
const OTHER_MODULE_SYNTAX = /^[ \t]*(import(\s+[\w{*]|\s*['"{*])|export(?!\s+default\b)\s)/m;

export function runnableSource(code: string): RunnableSource {
  if (OTHER_MODULE_SYNTAX.test(code)) {
    return {
      code,
      note: "This code uses import/export statements: InsForge's self-hosted runtime cannot run them (InsForge cloud can). To run everywhere, use module.exports = async function (req) { … } and the createClient it provides.",
    };
  }
  const defaults = code.match(EXPORT_DEFAULT)?.length ?? 0;
  if (defaults !== 1 || /\bmodule\.exports\b/.test(code)) return { code };
  return {
    code: code.replace(EXPORT_DEFAULT, '$1module.exports = '),
    note: 'Deployed with "export default" written as "module.exports =", the form every InsForge runtime runs.',
  };
}
