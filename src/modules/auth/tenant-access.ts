import { Injectable } from '@nestjs/common';
import { ProblemException } from '../../common/problem';
import { TenantsRepository } from './tenants.repository';
import { Principal } from './principal';

/**
 * Which tenant a request may name in its body, path or query: its own, and for operators any
 * tenant that exists. A tenant that does not exist is a 404, never an answer of zeros. Naming
 * another tenant takes an operator's API key: an operator's JWT reaches its own tenant only.
 */
@Injectable()
export class TenantAccess {
  constructor(private readonly tenants: TenantsRepository) {}

  /** The named tenant's id in its canonical (lower-case) form, once the principal may read it. */
  async resolve(principal: Principal, tenantId: string): Promise<string> {
    const id = tenantId.toLowerCase();
    if (!principal.isOperator || principal.via !== 'api_key') {
      assertOwnTenant(principal, id);
      return id;
    }
    if (id !== principal.tenantId && !(await this.tenants.findTenant(id))) {
      throw new ProblemException(404, 'tenant-not-found', 'Tenant not found', `There is no tenant ${id}.`);
    }
    return id;
  }
}

/** A tenant named in a request must be the caller's own, unless the caller is an operator. */
export function assertOwnTenant(principal: Principal, tenantId: string): void {
  if (principal.isOperator && principal.via === 'api_key') return;
  if (tenantId.toLowerCase() !== principal.tenantId) {
    throw new ProblemException(
      403,
      'tenant-forbidden',
      'Forbidden',
      principal.isOperator
        ? `Only an operator's API key may name another tenant than its own (${tenantId.slice(0, 64)}); a JWT reaches its own tenant only.`
        : `This credential belongs to another tenant than ${tenantId.slice(0, 64)}.`,
    );
  }
}
