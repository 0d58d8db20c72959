namespace CimAspire.Client;

/// <summary>The route API answered with an error (an RFC 7807 problem), or could not be reached (status 0).</summary>
public sealed class CimApiException : Exception
{
    public CimApiException(int statusCode, string? title, string? detail, Exception? inner = null)
        : base(Describe(statusCode, title, detail), inner)
    {
        StatusCode = statusCode;
        Title = title;
        Detail = detail;
    }

    /// <summary>HTTP status code; 0 when no response came.</summary>
    public int StatusCode { get; }

    public string? Title { get; }

    public string? Detail { get; }

    private static string Describe(int status, string? title, string? detail)
    {
        var what = status == 0 ? "The route API could not be reached" : $"The route API answered {status}";
        return (title, detail) switch
        {
            (null or "", null or "") => what + ".",
            (_, null or "") => $"{what}: {title}.",
            (null or "", _) => $"{what}: {detail}",
            _ => $"{what}: {title}. {detail}",
        };
    }
}
