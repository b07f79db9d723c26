import { IngestionService } from '../../src/modules/ingestion/ingestion.service';
import { TestEnv } from './test-env';

interface Batcher {
  add(items: unknown[]): Promise<unknown[]>;
  flush(): void;
}

export interface HeldFlushes {
  /** How many additions (single-event requests) reached the batcher since it was held. */
  added(): number;
  /** Lets the batcher flush again: everything added meanwhile goes in one flush. */
  release(): void;
}

/**
 * Holds the api's batcher of single events: the flushes its linger or its size limit asks for
 * wait until the test releases it, so that what arrives meanwhile is grouped whatever the speed
 * of the machine.
 */
export function holdSingleEventFlushes(t: TestEnv): HeldFlushes {
  const batcher = t.api!.get<IngestionService, { singles: Batcher }>(IngestionService).singles;
  const { add, flush } = { add: batcher.add.bind(batcher), flush: batcher.flush.bind(batcher) };
  let added = 0;
  let due = false;
  batcher.add = (items) => {
    added++;
    return add(items);
  };
  batcher.flush = () => {
    due = true;
  };
  return {
    added: () => added,
    release() {
      delete (batcher as Partial<Batcher>).add;
      delete (batcher as Partial<Batcher>).flush;
      if (due) flush();
    },
  };
}
