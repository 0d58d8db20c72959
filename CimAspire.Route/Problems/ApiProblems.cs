using Microsoft.AspNetCore.Http.HttpResults;

namespace CimAspire.Route.Problems;

/// <summary>The problem responses the API returns, each with a stable title and a specific detail.</summary>
public static class ApiProblems
{
    public static ValidationProblem Invalid(string field, string message) =>
        TypedResults.ValidationProblem(new Dictionary<string, string[]> { [field] = [message] }, detail: message, title: "Invalid request");

    public static ProblemHttpResult NotFound(string detail) =>
        TypedResults.Problem(detail, statusCode: StatusCodes.Status404NotFound, title: "Not found");

    public static ProblemHttpResult Conflict(string detail) =>
        TypedResults.Problem(detail, statusCode: StatusCodes.Status409Conflict, title: "Conflict");

    public static ProblemHttpResult Forbidden(string detail) =>
        TypedResults.Problem(detail, statusCode: StatusCodes.Status403Forbidden, title: "Forbidden");

    public static ProblemHttpResult Unauthorized(string detail) =>
        TypedResults.Problem(detail, statusCode: StatusCodes.Status401Unauthorized, title: "Unauthorized");

    public static ProblemHttpResult NoLiveServer() =>
        TypedResults.Problem(
            "No IM server is available right now: none is registered, or none accepted a connection. Try again shortly.",
            statusCode: StatusCodes.Status503ServiceUnavailable,
            title: "No IM server available");
}
