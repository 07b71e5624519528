import { ITEM_ROUTE } from './itemPath';

/**
 * The Fabric Extensibility Toolkit's routes (contract/extensibility-toolkit.swagger.json),
 * one line each, relative to the `api` prefix; literal segments match in any
 * letter case. `documented`: on Learn's REST reference. `provisional`: only in
 * the toolkit's reference backend (Release 2026.03), so a change to the
 * contract is a change of one line here.
 */
export const TOOLKIT_ROUTES = {
  onCreateItem: { route: `${ITEM_ROUTE}/OnCreateItem`, evidence: 'documented' },
  onUpdateItem: { route: `${ITEM_ROUTE}/OnUpdateItem`, evidence: 'documented' },
  onDeleteItem: { route: `${ITEM_ROUTE}/OnDeleteItem`, evidence: 'documented' },
  onRestoreItem: { route: `${ITEM_ROUTE}/OnRestoreItem`, evidence: 'documented' },
  onCreateJobInstance: { route: `${ITEM_ROUTE}/jobs/onCreateJobInstance`, evidence: 'provisional' },
  onGetJobInstanceStatus: { route: `${ITEM_ROUTE}/jobs/onGetJobInstanceStatus`, evidence: 'provisional' },
  onCancelJobInstance: { route: `${ITEM_ROUTE}/jobs/onCancelJobInstance`, evidence: 'provisional' },
  resolveEndpoint: { route: 'resolve-endpoint', evidence: 'provisional' },
} as const satisfies Record<string, { route: string; evidence: 'documented' | 'provisional' }>;
