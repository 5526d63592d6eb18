/** Process entry point of the CLI (bin/berth execs the bundle built from this file). */
import { main } from "./main.js";

void main(process.argv);
