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
}
