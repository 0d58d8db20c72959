namespace CimAspire.WebClient.Chat;

/// <summary>The browser's UTC offset (reported by the page's script), so times show in the user's zone, not the server's.</summary>
public sealed class BrowserTime
{
    public TimeSpan Offset { get; set; }

    public string Format(DateTimeOffset time) => time.ToOffset(Offset).ToString("HH:mm", System.Globalization.CultureInfo.InvariantCulture);
}
