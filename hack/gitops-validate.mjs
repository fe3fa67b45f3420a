// Validate Kubernetes documents (a JSON array on stdin) against the upstream Flux and Argo CD
// schemas from @kubernetes-models; prints one JSON result per document.
// Usage: node hack/gitops-validate.mjs "$(hack/gitops-schemas.sh)" < docs.json
import { pathToFileURL } from "node:url";
import { readFileSync } from "node:fs";

const dir = process.argv[2];
const load = (spec) => import(pathToFileURL(`${dir}/node_modules/${spec}/index.js`).href);
const models = {
  "helm.toolkit.fluxcd.io/v2": "@kubernetes-models/flux-cd/helm.toolkit.fluxcd.io/v2",
  "kustomize.toolkit.fluxcd.io/v1": "@kubernetes-models/flux-cd/kustomize.toolkit.fluxcd.io/v1",
  "source.toolkit.fluxcd.io/v1": "@kubernetes-models/flux-cd/source.toolkit.fluxcd.io/v1",
  "argoproj.io/v1alpha1": "@kubernetes-models/argo-cd/argoproj.io/v1alpha1",
};
const docs = JSON.parse(readFileSync(0, "utf8"));
const results = [];
for (const doc of docs) {
  const spec = models[doc.apiVersion];
  if (!spec) { results.push({ kind: doc.kind, error: `no schema for ${doc.apiVersion}` }); continue; }
  const Model = (await load(spec))[doc.kind];
  if (!Model) { results.push({ kind: doc.kind, error: `no ${doc.kind} in ${doc.apiVersion}` }); continue; }
  try { new Model(doc).validate(); results.push({ kind: doc.kind, name: doc.metadata?.name, error: null }); }
  catch (e) { results.push({ kind: doc.kind, name: doc.metadata?.name, error: String(e.message) }); }
}
console.log(JSON.stringify(results));
