using CimAspire.Route.Auth;
using Microsoft.AspNetCore.Authorization;
using Microsoft.AspNetCore.OpenApi;
using Microsoft.OpenApi;

namespace CimAspire.Route.Extensions;

/// <summary>Describes the two credentials in the OpenAPI document and marks each operation with the one it needs.</summary>
internal static class OpenApiSecurity
{
    private const string Bearer = "Bearer";
    private const string Admin = "AdminKey";

    public static OpenApiOptions AddCimSecurity(this OpenApiOptions options)
    {
        options.AddDocumentTransformer((document, _, _) =>
        {
            document.Components ??= new OpenApiComponents();
            document.Components.SecuritySchemes ??= new Dictionary<string, IOpenApiSecurityScheme>();
            document.Components.SecuritySchemes[Bearer] = new OpenApiSecurityScheme
            {
                Type = SecuritySchemeType.Http,
                Scheme = "bearer",
                Description = "The token from login or refresh.",
            };
            document.Components.SecuritySchemes[Admin] = new OpenApiSecurityScheme
            {
                Type = SecuritySchemeType.ApiKey,
                In = ParameterLocation.Header,
                Name = AdminKeyHandler.HeaderName,
                Description = "The administration key (configuration Cim:AdminKey).",
            };
            return Task.CompletedTask;
        });

        options.AddOperationTransformer((operation, context, _) =>
        {
            var metadata = context.Description.ActionDescriptor.EndpointMetadata;
            if (metadata.OfType<IAllowAnonymous>().Any() || !metadata.OfType<IAuthorizeData>().Any())
            {
                return Task.CompletedTask;
            }

            var scheme = metadata.OfType<IAuthorizeData>().Any(a => a.Policy == AdminKeyHandler.PolicyName) ? Admin : Bearer;
            operation.Security ??= [];
            operation.Security.Add(new OpenApiSecurityRequirement { [new OpenApiSecuritySchemeReference(scheme, context.Document)] = [] });
            return Task.CompletedTask;
        });
        return options;
    }
}
