"""The ModelRollout operator: canary analysis, promotion and rollback of model versions.

Layout (pure core, thin adapters):

- ``spec`` / ``status``: typed models of the custom resource;
- ``rollout``: the pure decision function ``decide(spec, status, readings, now)``;
- ``builders`` and ``queries``: pure builders of Kubernetes objects and PromQL;
- ``kube``, ``prometheus``, ``mlflow_adapter``: I/O adapters;
- ``observe`` gathers readings, ``executor`` applies a decision, ``reconcile`` glues them;
- ``handlers`` registers it all with kopf; ``python -m controller`` runs it.
"""

GROUP = "mlops.creditrisk.io"
VERSION = "v1alpha1"
PLURAL = "modelrollouts"
KIND = "ModelRollout"
ACTION_ANNOTATION = f"{GROUP}/action"
# who set the action, as the API server authenticated them: stamped by the chart's
# MutatingAdmissionPolicy (k8s/admission/action-by.yaml); absent without it
ACTION_BY_ANNOTATION = f"{GROUP}/action-by"
