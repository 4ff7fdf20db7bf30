// Run the CLI from source (used by tests and `npm run tierflow`); bin/tierflow.js runs the built copy.
import { main } from "./main.js";

await main(process.argv.slice(2));
