/**
 * The one answer to "is this process running on Azure's app hosting (App
 * Service, Azure Functions on any plan)?". The credential choice and the
 * development token issuer both ask it, so they can never disagree.
 *
 * - WEBSITE_INSTANCE_ID: App Service and Functions on Windows and Premium /
 *   Dedicated plans. The Functions host itself calls a host "App Service" when
 *   it is set, and Linux Consumption when it is not, so it alone misses
 *   Linux Consumption and Flex Consumption.
 * - WEBSITE_SITE_NAME: the app's name, set by the platform on every plan.
 *   Azure Functions Core Tools does not set it locally.
 * - IDENTITY_ENDPOINT: the managed identity endpoint the platform injects when
 *   the app has an identity (App Service, Functions, Container Apps).
 *
 * Not MSI_ENDPOINT: App Service sets it only beside IDENTITY_ENDPOINT, while
 * Azure Cloud Shell sets it alone, and Cloud Shell is a developer's machine.
 */
export const AZURE_HOST_MARKERS = ['WEBSITE_INSTANCE_ID', 'WEBSITE_SITE_NAME', 'IDENTITY_ENDPOINT'] as const;

type Env = Record<string, string | undefined>;

/** The first marker that is set (to say why), or undefined outside Azure. */
export function azureHostMarker(env: Env): (typeof AZURE_HOST_MARKERS)[number] | undefined {
  return AZURE_HOST_MARKERS.find((name) => Boolean(env[name]));
}

export function isRunningInAzure(env: Env): boolean {
  return azureHostMarker(env) !== undefined;
}
