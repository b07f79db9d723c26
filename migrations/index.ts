import { CreateRawEventsAndLedger1764300000000 } from './1764300000000-CreateRawEventsAndLedger';
import { CreateTenantsAndApiKeys1764400000000 } from './1764400000000-CreateTenantsAndApiKeys';
import { CreateSchemaRegistry1764500000000 } from './1764500000000-CreateSchemaRegistry';
import { CreatePrivacy1764600000000 } from './1764600000000-CreatePrivacy';
import { CreateRollups1764700000000 } from './1764700000000-CreateRollups';
import { CompactSketches1764800000000 } from './1764800000000-CompactSketches';
import { RollupPending1764900000000 } from './1764900000000-RollupPending';
import { PartitionCreationUnderConcurrency1765000000000 } from './1765000000000-PartitionCreationUnderConcurrency';
import { KeyedSubjects1765123000000 } from './1765123000000-KeyedSubjects';
import { ClickHouseOutbox1765200000000 } from './1765200000000-ClickHouseOutbox';
import { PriceBooksAndUsageLines1765210000000 } from './1765210000000-PriceBooksAndUsageLines';

/** Every migration, in order. The data source and the test template both read this list. */
export const MIGRATIONS = [
  CreateRawEventsAndLedger1764300000000,
  CreateTenantsAndApiKeys1764400000000,
  CreateSchemaRegistry1764500000000,
  CreatePrivacy1764600000000,
  CreateRollups1764700000000,
  CompactSketches1764800000000,
  RollupPending1764900000000,
  PartitionCreationUnderConcurrency1765000000000,
  KeyedSubjects1765123000000,
  ClickHouseOutbox1765200000000,
  PriceBooksAndUsageLines1765210000000,
];
