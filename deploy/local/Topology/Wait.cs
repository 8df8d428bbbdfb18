using System.Diagnostics;

namespace Distributed.Topology;

/// <summary>Waiting on conditions with a deadline, never on fixed sleeps.</summary>
public static class Wait
{
    private static readonly TimeSpan PollInterval = TimeSpan.FromMilliseconds(50);

    /// <summary>
    /// Polls <paramref name="condition"/> until it is true; throws <see cref="TimeoutException"/> naming
    /// <paramref name="what"/> at the deadline. An exception from the condition counts as false (the last one is reported).
    /// Returns how long it took.
    /// </summary>
    public static async Task<TimeSpan> UntilAsync(Func<Task<bool>> condition, TimeSpan timeout, string what, Func<string>? diagnostics = null)
    {
        ArgumentNullException.ThrowIfNull(condition);
        var clock = Stopwatch.StartNew();
        Exception? last = null;
        while (true)
        {
            try
            {
                if (await condition())
                {
                    return clock.Elapsed;
                }
            }
            catch (Exception ex) when (ex is not OutOfMemoryException)
            {
                last = ex;
            }

            if (clock.Elapsed >= timeout)
            {
                var detail = last is null ? "" : $" Last error: {last.GetType().Name}: {last.Message}";
                throw new TimeoutException($"Timed out after {timeout} waiting for {what}.{detail} {diagnostics?.Invoke()}");
            }

            await Task.Delay(PollInterval);
        }
    }

    /// <summary>Waits until <paramref name="url"/> answers 2xx; fails at once with its output if <paramref name="process"/> exits.</summary>
    public static Task<TimeSpan> ForHttpOkAsync(HttpClient http, Uri url, TimeSpan timeout, ManagedProcess? process = null)
    {
        ArgumentNullException.ThrowIfNull(http);
        return UntilAsync(
            async () =>
            {
                if (process is { HasExited: true })
                {
                    throw new InvalidOperationException($"{process.Name} exited while starting:\n{process.RecentOutput()}");
                }

                using var attempt = new CancellationTokenSource(TimeSpan.FromSeconds(2));
                using var response = await http.GetAsync(url, attempt.Token);
                return response.IsSuccessStatusCode;
            },
            timeout,
            $"{url} to answer 2xx",
            () => process is null ? "" : $"\n--- {process.Name} output:\n{process.RecentOutput()}");
    }
}
