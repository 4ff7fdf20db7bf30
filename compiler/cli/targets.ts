// `tierflow targets`: the preset targets (or one target file) with their key
// figures; node targets add their sockets and link bandwidth.

import type { Command } from "commander";
import { action } from "./run-command.js";
import { formatBytes } from "../format.js";
import { loadTarget, peakFlops, presetNames, socketCount, sramBytes } from "../../targets/target.js";
import type { Target } from "../../targets/target.js";

function row(t: Target): string[] {
  return [
    t.name, t.execution, `${(peakFlops(t, "bf16") / 1e12).toFixed(1)}`, `${t.compute.units}`, formatBytes(sramBytes(t)),
    formatBytes(t.hbm.bytes), `${(t.hbm.bandwidth / 1e12).toFixed(2)}`, formatBytes(t.ddr.bytes), `${(t.ddr.bandwidth / 1e9).toFixed(0)}`,
    `${socketCount(t)}`, t.node ? `${(t.node.link.bandwidth / 1e9).toFixed(0)}` : "-",
  ];
}

export function registerTargets(program: Command): void {
  program
    .command("targets")
    .description("list the preset targets with their key figures (or describe one target file)")
    .argument("[target]", "a preset name or a target JSON file")
    .option("--json", "print the full description(s) as JSON")
    .option("--sources", "print where every figure comes from")
    .action(action((name: string | undefined, flags: { json?: boolean; sources?: boolean }) => {
      const targets = (name ? [name] : presetNames()).map(loadTarget);
      if (flags.json) {
        process.stdout.write(`${JSON.stringify(name ? targets[0] : targets, null, 2)}\n`);
        return;
      }
      const header = ["target", "execution", "bf16 TFLOP/s", "units", "SRAM", "HBM", "HBM TB/s", "DDR", "DDR GB/s", "sockets", "link GB/s"];
      const rows = [header, ...targets.map(row)];
      const widths = header.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
      for (const r of rows) process.stdout.write(`${r.map((c, i) => c.padEnd(widths[i]!)).join("  ").trimEnd()}\n`);
      if (flags.sources) {
        for (const t of targets) {
          process.stdout.write(`\n${t.name}: ${t.description}\n`);
          for (const [k, v] of Object.entries(t.sources)) process.stdout.write(`  ${k}: ${v}\n`);
        }
      }
    }));
}
