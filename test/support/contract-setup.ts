import { describeViolations, takeContractViolations } from './contract';

// Every integration test's answers are checked against openapi.yaml (see contract.ts): a test whose
// requests got an answer the contract does not declare fails, and so does a file whose hooks did.
afterEach(() => {
  const violations = takeContractViolations();
  if (violations.length) throw new Error(describeViolations(violations));
});
afterAll(() => {
  const violations = takeContractViolations();
  if (violations.length) throw new Error(describeViolations(violations));
});
