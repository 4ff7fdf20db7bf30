// Preloaded into a measured child process: on exit, append its peak RSS and
// CPU time to the file named by TIERFLOW_USAGE_FILE.
import { appendFileSync } from "node:fs";

process.on("exit", () => {
  const file = process.env.TIERFLOW_USAGE_FILE;
  if (!file) return;
  const u = process.resourceUsage();
  appendFileSync(file, `${JSON.stringify({ maxRssKiB: u.maxRSS, userUs: u.userCPUTime, systemUs: u.systemCPUTime })}\n`);
});
