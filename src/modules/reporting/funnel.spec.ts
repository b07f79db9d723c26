import { summarizeFunnel, walkUnit } from './funnel';

const H = 3_600_000;
const opts = (steps: string[], strict = false) => ({ steps, from: 0, to: 10 * H, windowMs: H, strict });
const ev = (name: string, at: number) => ({ name, at });

describe('funnel walk', () => {
  it('follows ordered steps within the window, other events allowed in between', () => {
    expect(
      walkUnit(
        [ev('view', 0), ev('search', 10), ev('cart', 20), ev('checkout', 30)],
        opts(['view', 'cart', 'checkout']),
      ),
    ).toEqual([0, 20, 30]);
  });
  it('stops at a step outside the window from the first step', () => {
    expect(
      walkUnit([ev('view', 0), ev('cart', 10), ev('checkout', H + 1)], opts(['view', 'cart', 'checkout'])),
    ).toEqual([0, 10]);
  });
  it('tries every start and keeps the chain that gets furthest', () => {
    expect(
      walkUnit(
        [ev('view', 0), ev('view', 2 * H), ev('cart', 2 * H + 5), ev('checkout', 2 * H + 9)],
        opts(['view', 'cart', 'checkout']),
      ),
    ).toEqual([2 * H, 2 * H + 5, 2 * H + 9]);
  });
  it('needs a repeated event for a repeated step', () => {
    expect(walkUnit([ev('view', 0), ev('checkout', 5)], opts(['view', 'view', 'checkout']))).toEqual([0]);
    expect(walkUnit([ev('view', 0), ev('view', 3), ev('checkout', 5)], opts(['view', 'view', 'checkout']))).toEqual([
      0, 3, 5,
    ]);
  });
  it('counts an equal timestamp as later when the event comes later', () => {
    expect(walkUnit([ev('view', 7), ev('cart', 7)], opts(['view', 'cart']))).toEqual([7, 7]);
  });
  it('strict order allows no other event in between', () => {
    expect(walkUnit([ev('view', 0), ev('search', 1), ev('cart', 2)], opts(['view', 'cart'], true))).toEqual([0]);
    expect(walkUnit([ev('view', 0), ev('cart', 2)], opts(['view', 'cart'], true))).toEqual([0, 2]);
  });
  it('starts only inside the range', () => {
    expect(walkUnit([ev('view', 11 * H), ev('cart', 11 * H + 1)], opts(['view', 'cart']))).toEqual([]);
  });
  it('summarizes counts, conversions and median times', () => {
    const s = summarizeFunnel([[0, 10, 30], [0, 20], [0], []], ['view', 'cart', 'checkout']);
    expect(s).toEqual([
      {
        step: 1,
        event: 'view',
        units: 3,
        conversion_from_first: 1,
        conversion_from_previous: 1,
        median_ms_from_previous: null,
      },
      {
        step: 2,
        event: 'cart',
        units: 2,
        conversion_from_first: 2 / 3,
        conversion_from_previous: 2 / 3,
        median_ms_from_previous: 15,
      },
      {
        step: 3,
        event: 'checkout',
        units: 1,
        conversion_from_first: 1 / 3,
        conversion_from_previous: 1 / 2,
        median_ms_from_previous: 20,
      },
    ]);
  });
});
