import { BadMessage, keyFromProtocols, parseMessage } from './ws-protocol';

function bad(data: string): BadMessage {
  try {
    parseMessage(data);
  } catch (err) {
    return err as BadMessage;
  }
  throw new Error(`${data} was read as a message`);
}

describe('WebSocket messages', () => {
  it('reads one event or a batch with its seq', () => {
    expect(parseMessage('{"seq":1,"event":{"a":1}}')).toEqual({ seq: 1, kind: 'single', event: { a: 1 } });
    expect(parseMessage(Buffer.from('{"seq":"x-2","events":[1,2],"batch_id":"b"}'))).toEqual({
      seq: 'x-2',
      kind: 'batch',
      batch: { events: [1, 2], batch_id: 'b' },
    });
  });

  it('names the seq of a bad message when it can be read, and null when not', () => {
    expect(bad('{"seq":1,').seq).toBeNull();
    expect(bad('{"seq":1,').problem.type).toMatch(/invalid-json$/);
    expect(bad('[1]').seq).toBeNull();
    expect(bad('{"seq":-1,"event":{}}').seq).toBeNull();
    expect(bad('{"seq":1.5,"event":{}}').seq).toBeNull();
    expect(bad(`{"seq":"${'s'.repeat(65)}","event":{}}`).seq).toBeNull();
    expect(bad('{"seq":3,"event":{},"events":[]}')).toMatchObject({ seq: 3, problem: { status: 400 } });
    expect(bad('{"seq":4}').problem.detail).toContain('neither');
    expect(bad('{"seq":5,"event":{},"batch_id":"b"}').problem.detail).toContain('batch_id');
    expect(bad('{"seq":6,"event":{},"x":1}').problem.detail).toContain('"x"');
  });

  it('finds the key a browser offers as a subprotocol', () => {
    expect(keyFromProtocols('analytics.v1, bearer.ak_1_2')).toBe('ak_1_2');
    expect(keyFromProtocols(['analytics.v1', 'bearer.k'])).toBe('k');
    expect(keyFromProtocols('analytics.v1')).toBeNull();
    expect(keyFromProtocols(undefined)).toBeNull();
    expect(keyFromProtocols('bearer.')).toBeNull();
  });
});
