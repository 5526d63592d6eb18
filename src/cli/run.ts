/** Process entry point of the CLI (bin/berth execs this). */
import { main } from "./main.js";

await main(process.argv);
