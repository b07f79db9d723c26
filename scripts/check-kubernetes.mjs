#!/usr/bin/env node
// npm run lint:kubernetes [files...]: validates every object of the Kubernetes manifests against
// the API schemas of its apiVersion and kind (kubernetes-models: the OpenAPI schemas of Kubernetes
// and of prometheus-operator's CRDs, offline). An object of a kind it has no schema for fails.
import { readFileSync } from 'node:fs';
import yaml from 'js-yaml';
import * as core from 'kubernetes-models/v1';
import * as apps from 'kubernetes-models/apps/v1';
import * as batch from 'kubernetes-models/batch/v1';
import * as autoscaling from 'kubernetes-models/autoscaling/v2';
import * as policy from 'kubernetes-models/policy/v1';
import * as monitoring from '@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1';

const MODELS = {
  v1: core,
  'apps/v1': apps,
  'batch/v1': batch,
  'autoscaling/v2': autoscaling,
  'policy/v1': policy,
  'monitoring.coreos.com/v1': monitoring,
};

const files = process.argv.slice(2).length ? process.argv.slice(2) : ['docker/kubernetes.yaml'];
let failed = 0;
for (const file of files) {
  const docs = yaml.loadAll(readFileSync(file, 'utf8')).filter((d) => d !== null && d !== undefined);
  for (const doc of docs) {
    const what = `${file}: ${doc?.kind ?? '?'} ${doc?.metadata?.name ?? '?'} (${doc?.apiVersion ?? '?'})`;
    const Model = MODELS[doc?.apiVersion]?.[doc?.kind];
    if (!Model) {
      console.error(`FAIL ${what}: no schema for this apiVersion and kind`);
      failed++;
      continue;
    }
    try {
      new Model(doc).validate();
      console.log(`ok   ${what}`);
    } catch (err) {
      console.error(`FAIL ${what}: ${err.message}`);
      failed++;
    }
  }
}
if (failed) {
  console.error(`${failed} object(s) invalid`);
  process.exit(1);
}
