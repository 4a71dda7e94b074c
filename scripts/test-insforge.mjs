// `npm run test:insforge`: the real-backend suite (vitest.insforge.config.ts), or one line saying
// how to run it when no real InsForge backend is configured. INSFORGE_REQUIRED=1 (CI) makes that a failure.
import { spawnSync } from 'node:child_process';

const missing = ['INSFORGE_BASE_URL', 'INSFORGE_API_KEY', 'INSFORGE_ANON_KEY'].filter((name) => !process.env[name]);
if (missing.length) {
  console.log(`Real-backend suite skipped (no ${missing.join(', ')}): bash ../shared/insforge/up.sh > insforge.env; set -a; . ./insforge.env; set +a; npm run test:insforge`);
  process.exit(process.env.INSFORGE_REQUIRED === '1' ? 1 : 0);
}
const run = (cmd, args) => spawnSync(cmd, args, { stdio: 'inherit', shell: process.platform === 'win32' }).status ?? 1;
const built = run('npm', ['run', 'build', '--silent']);
process.exit(built !== 0 ? built : run('npx', ['vitest', 'run', '--config', 'vitest.insforge.config.ts', ...process.argv.slice(2)]));
