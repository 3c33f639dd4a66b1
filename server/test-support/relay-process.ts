/**
 * Child-process relay for crash tests: starts on 127.0.0.1 with a free port
 * in DATA_DIR and prints one JSON line with its `url` on stdout.
 */
import { createRelay } from '../app';
import { createLogger } from '../logger';

const dataDir = process.env.DATA_DIR;
if (!dataDir) throw new Error('DATA_DIR is required');
const logger = createLogger({ level: 'warn' });
const relay = await createRelay({ dataDir, port: 0, logger });
process.stdout.write(`${JSON.stringify({ url: relay.url })}\n`);
