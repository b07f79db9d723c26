import { createHash, createHmac, randomBytes } from 'node:crypto';
import { consentKey, erasureKey, memberKey, pseudonymize } from './subject-keys';

describe('subject keys', () => {
  it('gives each use its own key for the same id', () => {
    const secret = randomBytes(32);
    const id = 'u_4821';
    const sha = createHash('sha256').update(id).digest();
    const forms = [
      pseudonymize(secret, id),
      consentKey(secret, 'u', id),
      consentKey(secret, 's', id),
      erasureKey(secret, 'user', id).toString('hex'),
      erasureKey(secret, 'session', id).toString('hex'),
      memberKey(secret, id).toString('hex'),
    ];
    expect(new Set(forms).size).toBe(forms.length);
    expect(forms).not.toContain(sha.toString('hex'));
    expect(consentKey(secret, 'u', id)).toBe(
      createHmac('sha256', secret)
        .update(`consent:u:${sha.toString('hex').slice(0, 32)}`)
        .digest('hex'),
    );
    expect(pseudonymize(randomBytes(32), id)).not.toBe(forms[0]); // another tenant, another pseudonym
  });
});
