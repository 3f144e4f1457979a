import { Migration20261126000000Initial } from './Migration20261126000000Initial';
import { Migration20261126010000ChannelHealth } from './Migration20261126010000ChannelHealth';
import { Migration20261126020000KeyBudgets } from './Migration20261126020000KeyBudgets';
import { Migration20261205010000MediaPriceUnits } from './Migration20261205010000MediaPriceUnits';
import { Migration20261205020000TokenDebt } from './Migration20261205020000TokenDebt';
import { Migration20261205040000SharedLimits } from './Migration20261205040000SharedLimits';
import { Migration20261205050000ConsoleUpstreamCost } from './Migration20261205050000ConsoleUpstreamCost';
import { Migration20261205061300TaskPendingStart } from './Migration20261205061300TaskPendingStart';
import { Migration20261205070000ProviderJobPolls } from './Migration20261205070000ProviderJobPolls';

/** Migrations in order. Listed explicitly so they run the same from tsx, ts-jest and a build. */
export const migrationsList = [
  { name: 'Migration20261126000000Initial', class: Migration20261126000000Initial },
  { name: 'Migration20261126010000ChannelHealth', class: Migration20261126010000ChannelHealth },
  { name: 'Migration20261126020000KeyBudgets', class: Migration20261126020000KeyBudgets },
  { name: 'Migration20261205010000MediaPriceUnits', class: Migration20261205010000MediaPriceUnits },
  { name: 'Migration20261205020000TokenDebt', class: Migration20261205020000TokenDebt },
  { name: 'Migration20261205040000SharedLimits', class: Migration20261205040000SharedLimits },
  { name: 'Migration20261205050000ConsoleUpstreamCost', class: Migration20261205050000ConsoleUpstreamCost },
  { name: 'Migration20261205061300TaskPendingStart', class: Migration20261205061300TaskPendingStart },
  { name: 'Migration20261205070000ProviderJobPolls', class: Migration20261205070000ProviderJobPolls },
];
