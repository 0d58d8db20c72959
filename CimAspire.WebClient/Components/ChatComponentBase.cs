using CimAspire.WebClient.Chat;
using Microsoft.AspNetCore.Components;

namespace CimAspire.WebClient.Components;

/// <summary>A component that re-renders whenever the chat session changes, through a disposable subscription.</summary>
public abstract class ChatComponentBase : ComponentBase, IDisposable
{
    private IDisposable? _subscription;

    [Inject]
    protected ChatSession Chat { get; set; } = default!;

    protected override void OnInitialized()
    {
        _subscription = Chat.Subscribe(OnChatChangedAsync);
    }

    /// <summary>Runs on the renderer's thread before re-rendering after a change.</summary>
    protected virtual Task OnChatChangedOnRendererAsync() => Task.CompletedTask;

    private async Task OnChatChangedAsync()
    {
        try
        {
            await InvokeAsync(async () =>
            {
                await OnChatChangedOnRendererAsync();
                StateHasChanged();
            });
        }
        catch (Exception ex)
        {
            await DispatchExceptionAsync(ex);
        }
    }

    public void Dispose()
    {
        _subscription?.Dispose();
        GC.SuppressFinalize(this);
    }
}
