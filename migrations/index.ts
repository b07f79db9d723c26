import { CreateRawEventsAndLedger1764300000000 } from './1764300000000-CreateRawEventsAndLedger';

/** Every migration, in order. The data source and the test template both read this list. */
export const MIGRATIONS = [CreateRawEventsAndLedger1764300000000];
