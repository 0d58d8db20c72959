using Microsoft.Extensions.Configuration;

namespace CimAspire.AppHost.Infrastructure;

public static class ProjectResourceExtensions
{
    /// <summary>
    /// Gives a service an <c>http</c> endpoint unless its launch profile already declares one, so it serves
    /// <c>/health</c> on a port Aspire allocates whether or not the project has a launchSettings.json.
    /// </summary>
    public static IResourceBuilder<ProjectResource> WithHttpEndpointUnlessDeclared(this IResourceBuilder<ProjectResource> builder) =>
        builder.Resource.Annotations.OfType<EndpointAnnotation>().Any(endpoint => endpoint.UriScheme is "http" or "https")
            ? builder
            : builder.WithHttpEndpoint();

    /// <summary>
    /// Passes every AppHost setting under <paramref name="section"/> (e.g. <c>Cim:Route:LoginRateLimit:PermitLimit</c>)
    /// to the service as environment variables, so a service's tunables can be set where the cluster is started.
    /// </summary>
    public static IResourceBuilder<ProjectResource> WithSettingsFrom(
        this IResourceBuilder<ProjectResource> builder, IConfiguration configuration, string section)
    {
        foreach (var (key, value) in configuration.GetSection(section).AsEnumerable())
        {
            if (value is not null)
            {
                builder.WithEnvironment(key.Replace(":", "__", StringComparison.Ordinal), value);
            }
        }

        return builder;
    }
}
