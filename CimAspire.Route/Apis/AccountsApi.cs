using CimAspire.Protocol;
using CimAspire.Route.Accounts;
using CimAspire.Route.Extensions;
using CimAspire.Route.Problems;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.Extensions.Options;

namespace CimAspire.Route.Apis;

public static class AccountsApi
{
    public static IEndpointRouteBuilder MapAccountsApi(this IEndpointRouteBuilder app)
    {
        var api = app.MapGroup("/api/accounts").WithTags("Accounts");

        api.MapPost("/", RegisterAsync)
            .AllowAnonymous()
            .RequireRateLimiting(RateLimitPolicies.Register)
            .WithName("Register")
            .WithSummary("Registers a user name with a password")
            .WithDescription("User names are 3-32 characters of A-Z, a-z, 0-9, '_', '.', '-' and unique ignoring case.")
            .ProducesProblem(StatusCodes.Status409Conflict)
            .ProducesProblem(StatusCodes.Status429TooManyRequests);

        var authorized = api.MapGroup("").RequireAuthorization().ProducesProblem(StatusCodes.Status401Unauthorized);
        authorized.MapGet("/", SearchAsync)
            .WithName("SearchUsers")
            .WithSummary("Users whose name starts with a prefix (case-insensitive), in name order");
        authorized.MapGet("/{userId:long}", GetAsync)
            .WithName("GetUser")
            .WithSummary("A user by id");
        authorized.MapGet("/by-name/{userName}", GetByNameAsync)
            .WithName("GetUserByName")
            .WithSummary("A user by name (case-insensitive)");
        return app;
    }

    public static async Task<Results<Created<AccountDto>, ValidationProblem, ProblemHttpResult>> RegisterAsync(
        RegisterRequest request, AccountStore accounts, IOptions<RouteApiOptions> options)
    {
        if (AccountStore.CheckUserName(request.UserName) is { } nameError)
        {
            return ApiProblems.Invalid("userName", nameError);
        }

        var minLength = options.Value.PasswordMinLength;
        if (string.IsNullOrEmpty(request.Password))
        {
            return ApiProblems.Invalid("password", "The password is required.");
        }

        if (request.Password.Length < minLength || request.Password.Length > AccountStore.MaxPasswordLength)
        {
            return ApiProblems.Invalid("password", $"The password must be {minLength} to {AccountStore.MaxPasswordLength} characters long.");
        }

        var (outcome, account) = await accounts.RegisterAsync(request.UserName!, request.Password);
        if (outcome == RegisterOutcome.NameTaken)
        {
            return ApiProblems.Conflict($"The user name '{request.UserName}' is already taken.");
        }

        return TypedResults.Created($"/api/accounts/{account!.UserId}", ToDto(account));
    }

    public static async Task<Results<Ok<AccountDto[]>, ValidationProblem>> SearchAsync(
        AccountStore accounts, string? prefix = null, int limit = 20)
    {
        prefix ??= "";
        if (!AccountStore.IsNamePrefix(prefix))
        {
            return ApiProblems.Invalid("prefix", "A name prefix may contain only the characters of user names.");
        }

        if (limit is < 1 or > AccountStore.MaxSearchResults)
        {
            return ApiProblems.Invalid("limit", $"The limit must be between 1 and {AccountStore.MaxSearchResults}.");
        }

        var found = await accounts.SearchAsync(prefix, limit);
        return TypedResults.Ok(found.Select(ToDto).ToArray());
    }

    public static async Task<Results<Ok<AccountDto>, ProblemHttpResult>> GetAsync(long userId, AccountStore accounts) =>
        await accounts.GetAsync(userId) is { } account
            ? TypedResults.Ok(ToDto(account))
            : ApiProblems.NotFound($"There is no user {userId}.");

    public static async Task<Results<Ok<AccountDto>, ProblemHttpResult>> GetByNameAsync(string userName, AccountStore accounts) =>
        await accounts.FindByNameAsync(userName) is { } account
            ? TypedResults.Ok(ToDto(account))
            : ApiProblems.NotFound($"There is no user named '{userName}'.");

    private static AccountDto ToDto(UserAccount account) => new(account.UserId, account.UserName, account.CreatedAt);
}
