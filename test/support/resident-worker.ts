/**
 * A process that runs one generate job through a ResidentEngine and keeps its server, for the test that kills it
 * with SIGKILL. Environment: RESIDENT_OPTIONS, RESIDENT_SPEC, RESIDENT_SPEC_PATH (JSON). Prints the server's pid.
 */
import { ResidentEngine } from '../../src/engine/resident.js';

const engine = new ResidentEngine(JSON.parse(process.env.RESIDENT_OPTIONS!));
await engine.run('generate', JSON.parse(process.env.RESIDENT_SPEC!), { specPath: process.env.RESIDENT_SPEC_PATH! });
console.log(engine.serverPid);
setInterval(() => {}, 1000); // stays until killed
