import { parseArgs, USAGE } from './config.ts';
import { createLogger } from './log.ts';

const parsed = parseArgs(process.argv.slice(2), process.env);
if ('help' in parsed) {
  process.stdout.write(USAGE);
  process.exit(0);
}
if (!parsed.ok) {
  process.stderr.write(`weft-agent: ${parsed.error}\n`);
  process.exit(2);
}
const cfg = parsed.config;
const log = createLogger(cfg.logLevel, cfg.logFormat, undefined, { node: cfg.nodeName });
const { startAgent, StartupError } = await import('./agent.ts');
try {
  const agent = await startAgent(cfg, log);
  const stop = (sig: string) => {
    log.info('signal received', { signal: sig });
    void agent.stop().then(
      () => process.exit(0),
      (e) => {
        log.error('shutdown failed', { error: String(e) });
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
} catch (e) {
  if (e instanceof StartupError) {
    process.stderr.write(`weft-agent: ${e.message}\n`);
    process.exit(1);
  }
  log.error('weft-agent failed to start', { error: e instanceof Error ? (e.stack ?? e.message) : String(e) });
  process.exit(1);
}
