/**
 * How `npm run bench` reports the Extensibility Toolkit's operations: rows of
 * its table, a field of its summary line, and the table of docs/performance.md's
 * section on them, beside v1's Get, Create and Cancel from the same run.
 */
import type { OperationCost } from './benchOperation';
import type { Figures } from './benchReport';

const round = (value: number, digits = 0) => Number(value.toFixed(digits));

export const ratioOf = (cost: Pick<OperationCost, 'invocationUs' | 'floorUs'>) =>
  round(cost.invocationUs / cost.floorUs, 2);

/** Rows of the bench's table, one per operation. */
export function toolkitRows(costs: OperationCost[]): [string, string][] {
  return costs.map((cost) => [
    `toolkit ${cost.operation}: CPU of the invocation / its floor (${cost.floor}), cache off`,
    `${round(cost.invocationUs)} µs / ${round(cost.floorUs)} µs, ${ratioOf(cost)} ×`,
  ]);
}

/** `toolkit_cpu_ratios=OnCreateItem:1.1,…`: the operation names without spaces or slashes. */
export function toolkitSummary(costs: OperationCost[]): string {
  const name = (operation: string) => operation.replace(/^\//, '').replace(/ /g, '_');
  return `toolkit_cpu_ratios=${costs.map((cost) => `${name(cost.operation)}:${ratioOf(cost)}`).join(',')}`;
}

/** v1's three operations measured the same way (in process, 1 at a time, cache off), from the same run. */
export function v1Costs(f: Figures): OperationCost[] {
  return [
    { operation: 'v1 Get', floor: '1 read + 2 RS256', invocationUs: f.uncachedInvocationUs[1], floorUs: f.floorUs[1] },
    {
      operation: 'v1 Create',
      floor: '1 read, 1 insert, 1 enqueue + 2 RS256',
      invocationUs: f.jobs.createUs.invocation,
      floorUs: f.jobs.createUs.floor,
    },
    {
      operation: 'v1 Cancel',
      floor: '1 read, 1 replace + 2 RS256',
      invocationUs: f.jobs.cancelUs.invocation,
      floorUs: f.jobs.cancelUs.floor,
    },
  ];
}

/** docs/performance.md's table: every toolkit operation, then v1's, against the target of 1.2. */
export function toolkitTable(f: Figures): string {
  const line = (cost: OperationCost) =>
    `| ${cost.operation} | ${round(cost.invocationUs)} | ${round(cost.floorUs)} | ${ratioOf(cost)} × | ${cost.floor} |`;
  return [
    '| operation | CPU per call (µs) | floor (µs) | ratio | the floor: storage requests + RS256 verifications |',
    '|---|---|---|---|---|',
    ...f.toolkit.map(line),
    ...v1Costs(f).map(line),
  ].join('\n');
}
