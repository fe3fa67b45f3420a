-- Argo CD health check for eventbridge.dev/EventBridgeIntegration.
--   Ready=True                      -> Healthy
--   Stalled=True (a human must act) -> Degraded, with the first error finding and its fix
--   anything else                   -> Progressing
local hs = { status = "Progressing", message = "Waiting for the controller to reconcile" }
if obj.status == nil or obj.status.conditions == nil then
  return hs
end
local generation = obj.metadata and obj.metadata.generation
local observed = obj.status.observedGeneration
if generation ~= nil and observed ~= nil and observed < generation then
  hs.message = "Waiting for the controller to observe generation " .. generation
  return hs
end
local ready, stalled
for _, c in ipairs(obj.status.conditions) do
  if c.type == "Ready" then ready = c end
  if c.type == "Stalled" then stalled = c end
end
if ready ~= nil and ready.status == "True" then
  hs.status = "Healthy"
  hs.message = ready.message or "Ready"
  return hs
end
if stalled ~= nil and stalled.status == "True" then
  hs.status = "Degraded"
  hs.message = (stalled.reason or "Stalled") .. ": " .. (stalled.message or "")
  if obj.status.findings ~= nil then
    for _, f in ipairs(obj.status.findings) do
      if f.severity == "error" then
        hs.message = f.code .. ": " .. f.message .. " Fix: " .. f.remediation
        break
      end
    end
  end
  return hs
end
if ready ~= nil then
  hs.message = (ready.reason or "NotReady") .. ": " .. (ready.message or "")
end
return hs
