/** Entry of the single-file `weft` (bun build --compile, see compile.ts): the CLI, nothing else. */
import { cli } from '@weft/cli';

await cli();
