// The operator's alerts: log search alerts on Application Insights over the
// app's summary lines (RequestSummary, JobTransition), and one action group.
// Each query lives in infra/alerts/*.kql, the same text docs/operations.md
// shows beside what the alert means and what to check first.

param applicationInsightsName string
param baseName string
param location string
param tags object

@description('E-mail address the action group notifies. Empty: the alerts fire (and show in the portal) without notifying anyone.')
param alertEmail string

@description('5xx answers in 15 minutes above which the server-errors alert fires.')
@minValue(0)
param serverErrorThreshold int

@description('401 answers in 15 minutes above which the authentication-failures alert fires (a wrong audience or tenant after a deploy fails every call).')
@minValue(0)
param authFailureThreshold int

resource appInsights 'Microsoft.Insights/components@2020-02-02' existing = {
  name: applicationInsightsName
}

resource actionGroup 'Microsoft.Insights/actionGroups@2023-01-01' = {
  name: 'ag-${baseName}'
  location: 'global'
  tags: tags
  properties: {
    groupShortName: 'fabricjobs'
    enabled: true
    emailReceivers: empty(alertEmail)
      ? []
      : [
          {
            name: 'operator'
            emailAddress: alertEmail
            useCommonAlertSchema: true
          }
        ]
  }
}

var alerts = [
  {
    name: 'summaries-missing'
    description: 'HTTP requests arrived but no RequestSummary did: the app\'s own export fails while the host\'s works, and the other alerts are blind. See docs/operations.md#summaries-missing.'
    severity: 1
    query: loadTextContent('../alerts/summariesMissing.kql')
    window: 'PT15M'
    threshold: 0
  }
  {
    name: 'server-errors'
    description: '5xx answers above the threshold: storage or signing keys unreachable, a corrupt row, or a bug. See docs/operations.md#server-errors.'
    severity: 1
    query: loadTextContent('../alerts/serverErrors.kql')
    window: 'PT15M'
    threshold: serverErrorThreshold
  }
  {
    name: 'signing-keys-unavailable'
    description: 'Entra ID signing keys could not be fetched and none are cached: every call answers 503. See docs/operations.md#signing-keys-unavailable.'
    severity: 0
    query: loadTextContent('../alerts/signingKeysUnavailable.kql')
    window: 'PT5M'
    threshold: 0
  }
  {
    name: 'auth-failures'
    description: 'A burst of 401s: usually WORKLOAD_AUDIENCE, WORKLOAD_CLIENT_ID or PUBLISHER_TENANT_ID wrong after a deploy. See docs/operations.md#auth-failures.'
    severity: 2
    query: loadTextContent('../alerts/authFailures.kql')
    window: 'PT15M'
    threshold: authFailureThreshold
  }
  {
    name: 'jobs-not-run'
    description: 'Jobs ended JobRunnerLost (a runner stopped mid-job) or JobCouldNotStart (the message was poisoned). See docs/operations.md#jobs-not-run.'
    severity: 2
    query: loadTextContent('../alerts/jobsNotRun.kql')
    window: 'PT15M'
    threshold: 0
  }
  {
    name: 'poison-queue'
    description: 'A job message reached the poison queue after maxDequeueCount failures. See docs/operations.md#poison-queue.'
    severity: 2
    query: loadTextContent('../alerts/poisonQueue.kql')
    window: 'PT15M'
    threshold: 0
  }
]

resource rules 'Microsoft.Insights/scheduledQueryRules@2026-03-01' = [
  for alert in alerts: {
    name: '${alert.name}-${baseName}'
    location: location
    tags: tags
    kind: 'LogAlert'
    properties: {
      displayName: '${baseName}: ${alert.name}'
      description: alert.description
      severity: alert.severity
      enabled: true
      scopes: [
        appInsights.id
      ]
      evaluationFrequency: 'PT5M'
      windowSize: alert.window
      criteria: {
        allOf: [
          {
            query: alert.query
            timeAggregation: 'Count'
            operator: 'GreaterThan'
            threshold: alert.threshold
            failingPeriods: {
              numberOfEvaluationPeriods: 1
              minFailingPeriodsToAlert: 1
            }
          }
        ]
      }
      autoMitigate: true
      actions: {
        actionGroups: [
          actionGroup.id
        ]
      }
    }
  }
]

output actionGroupId string = actionGroup.id
