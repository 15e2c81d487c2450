// `ditto analyze`: the equivalence analyzer. Proves in exact arithmetic that the fixed forecasting
// formulas are linear predictors with fixed weights (and which), and, given data, shows what a
// learned L2P matrix amounts to and how linear the trajectories are.
//
//   ditto analyze [--json] [--weights W.json (--interval N | --full-steps a,b,c) [--schedule ...] [--order m]]
//                 [--trajectories T.safetensors]
//   ditto analyze coefficients --method taylorseer|newton|foca [--order m] --anchors s0,s1,... --target s [--json]
//
// The first form exits non-zero if any identity fails.

import { UserError } from '../core/errors.js';
import { formatTable } from '../core/table.js';
import { readTrajectories } from '../predictors/fit/trajectories.js';
import { focaWeights } from '../predictors/foca.js';
import { readWeightsFile } from '../predictors/l2p.js';
import { DEFAULT_TAYLORSEER_ORDER, MAX_TAYLORSEER_ORDER } from '../predictors/methods.js';
import { parseStepList } from '../predictors/schedule.js';
import { effectiveWeights } from '../predictors/analyzer/effective.js';
import { projectionFidelity } from '../predictors/analyzer/fidelity.js';
import { fractions as Q } from '../predictors/analyzer/fraction.js';
import { EVEN_GAP, runIdentities, sum, taylorSeerExact } from '../predictors/analyzer/identities.js';
import { newtonWeights } from '../predictors/analyzer/newton.js';
import { effectiveTable, evenWeightRows, exactWeights, fidelityTable, theoryReport, unevenWeightRows } from '../predictors/analyzer/report.js';
import { parseFlags, type CommandIo, type Flags } from './flags.js';
import { formatJson } from './json.js';
import { checkInputs, given, hasScheduleFlags, orderFromFlags, scheduleFlagSpec, scheduleFromFlags } from './options.js';

export const analyzeUsage = `usage: ditto analyze [--json] [--weights W.json (--interval N | --full-steps a,b,c) [--schedule paper|taylorseer] [--order m]]
                     [--trajectories T.safetensors] [--threshold 0.95]
       ditto analyze coefficients --method taylorseer|newton|foca [--order m] --anchors s0,s1,... --target s [--json]
  (no files)      the identities, in exact arithmetic: TaylorSeer, Newton and FoCa weights for orders 1..8 on even
                  and uneven anchors; exits 1 if any fails
  --weights       also unroll this L2P matrix into effective weights on the schedule's full steps, next to
                  TaylorSeer of order --order (default ${DEFAULT_TAYLORSEER_ORDER})
  --trajectories  also the projection fidelity per step of T's \`trajectories\` [B, S, ...]
  coefficients    one method's exact weights on the given anchors (most recent first) for one target step`;

const spec = {
  json: { type: 'boolean' },
  weights: { type: 'string' },
  ...scheduleFlagSpec,
  order: { type: 'string' },
  trajectories: { type: 'string' },
  threshold: { type: 'string' },
  method: { type: 'string' },
  anchors: { type: 'string' },
  target: { type: 'string' },
} as const;

export async function analyzeCommand(argv: string[], io: CommandIo): Promise<void> {
  const flags = parseFlags(argv, spec, analyzeUsage, 1);
  const [sub, ...extra] = flags.positionals;
  if (extra.length > 0 || (sub !== undefined && sub !== 'coefficients')) {
    throw new UserError(`unexpected argument "${extra[0] ?? sub}": the only subcommand is "coefficients" (ditto analyze --help)`);
  }
  if (sub === 'coefficients') return coefficients(flags, io);
  for (const name of ['method', 'anchors', 'target']) {
    if (flags.string(name) !== undefined) throw new UserError(`--${name} belongs to "ditto analyze coefficients"`);
  }

  const checks = runIdentities();
  const failed = checks.filter((c) => !c.passed);
  const result: Record<string, unknown> = {
    passed: failed.length === 0,
    checks,
    weights: {
      even: evenWeightRows().map((r) => ({ order: r.order, anchors: r.anchors, target: r.anchors[0]! + EVEN_GAP, taylorseer: r.taylorSeer.map(String), newton: r.newton.map(String) })),
      uneven: unevenWeightRows().map((r) => ({ order: r.order, anchors: r.anchors, taylorseer: r.taylorSeer.map(String), newton: r.newton.map(String), foca: r.foca?.map(String) })),
    },
  };
  const sections = [theoryReport(checks)];

  const weightsPath = flags.string('weights');
  checkInputs(given([['--weights', weightsPath], ['--trajectories', flags.string('trajectories')]]));
  if (weightsPath === undefined && (hasScheduleFlags(flags) || flags.string('order') !== undefined)) {
    throw new UserError('--interval, --full-steps, --schedule and --order go with --weights W.json (the matrix to unroll)');
  }
  if (weightsPath !== undefined) {
    const w = readWeightsFile(weightsPath);
    if (!hasScheduleFlags(flags)) throw new UserError('--weights needs the schedule to unroll it on: --interval N or --full-steps a,b,c');
    const schedule = scheduleFromFlags(flags, w.length, 'paper');
    const order = orderFromFlags(flags) ?? DEFAULT_TAYLORSEER_ORDER;
    const effective = effectiveWeights(w, schedule, order);
    result.effective = { schedule: schedule.label, fullSteps: schedule.fullSteps, taylorSeerOrder: order, steps: effective };
    sections.push(`L2P ${weightsPath} unrolled on ${schedule.label} (full steps ${schedule.fullSteps.join(' ')}):\n\n${effectiveTable(effective, order)}`);
  }

  const trajPath = flags.string('trajectories');
  if (trajPath !== undefined) {
    const threshold = flags.number('threshold') ?? 0.95;
    if (!(threshold > 0 && threshold <= 1)) throw new UserError(`--threshold is a fidelity between 0 and 1, got ${threshold}`);
    const t = readTrajectories(trajPath);
    let last = performance.now();
    const fidelity = projectionFidelity(t, threshold, (b) => {
      if (performance.now() - last > 1000) {
        io.info(`projection fidelity: ${b + 1}/${t.batch} trajectories`);
        last = performance.now();
      }
    });
    result.fidelity = fidelity;
    sections.push(`Projection fidelity 1 - ||F_t - Proj F_t|| / ||F_t|| onto the span of the earlier outputs (${t.batch} trajectories):\n\n${fidelityTable(fidelity)}`);
  } else if (flags.string('threshold') !== undefined) {
    throw new UserError('--threshold goes with --trajectories');
  }

  io.print(flags.bool('json') ? formatJson(result) : sections.join('\n\n'));
  if (failed.length > 0) throw new UserError(`${failed.length} of ${checks.length} identities failed: ${failed.map((c) => `${c.name} [${c.anchors}, m=${c.order}]`).join('; ')}`);
}

async function coefficients(flags: Flags, io: CommandIo): Promise<void> {
  const method = flags.required('method');
  if (!['taylorseer', 'newton', 'foca'].includes(method)) throw new UserError(`unknown method "${method}": coefficients knows taylorseer, newton and foca`);
  const anchors = parseStepList(flags.required('anchors'), '--anchors');
  if (anchors.length > MAX_TAYLORSEER_ORDER + 1) throw new UserError(`--anchors lists ${anchors.length} steps; the highest order is ${MAX_TAYLORSEER_ORDER}, which uses ${MAX_TAYLORSEER_ORDER + 1}: give fewer anchors`);
  anchors.forEach((s, i) => {
    if (i > 0 && s >= anchors[i - 1]!) throw new UserError(`--anchors lists the full steps most recent first, strictly decreasing; got ${anchors.join(',')}`);
  });
  const targetText = flags.required('target');
  const [target] = parseStepList(targetText, '--target');
  if (targetText.includes(',')) throw new UserError(`--target is one step number, got "${targetText}"`);
  if (target <= anchors[0]!) throw new UserError(`--target ${target} must come after the most recent anchor ${anchors[0]}`);
  let order = orderFromFlags(flags);

  let w;
  if (method === 'taylorseer') {
    order ??= DEFAULT_TAYLORSEER_ORDER;
    w = taylorSeerExact(anchors, target, order);
  } else if (method === 'newton') {
    order ??= anchors.length - 1;
    if (anchors.length < order + 1) throw new UserError(`Newton of order ${order} needs ${order + 1} anchors, got ${anchors.length}`);
    w = newtonWeights(Q, anchors, target, order);
  } else {
    if (order !== undefined && order !== 2) throw new UserError(`FoCa has a fixed form (BDF2, order 2): --order must be 2 or left out, got ${order}`);
    order = 2;
    w = focaWeights(Q, anchors, target);
  }
  const weights = exactWeights(w, anchors);
  if (flags.bool('json')) {
    io.print(formatJson({ method, order, anchors, target, weights, sum: sum(w).toString() }));
    return;
  }
  io.print(`${method} order ${order}, forecasting step ${target} from anchors ${anchors.join(', ')} (most recent first):`);
  io.print(formatTable(['step', 'exact', 'value'], weights.map((x) => [String(x.step), x.exact.replace(/\/1$/, ''), x.value.toPrecision(12)])));
  io.print(`sum of weights: ${sum(w).toShortString()}`);
}
