using System.Collections.Concurrent;
using System.Diagnostics;

namespace Distributed.Topology;

/// <summary>
/// A real child process (a host dll run with <c>dotnet</c>, or any executable) with its output kept for failure
/// messages. Every started process is killed when the test process exits, so a crashed run leaves no orphans.
/// </summary>
public sealed class ManagedProcess : IAsyncDisposable
{
    private const int KeptLines = 400;
    private static readonly ConcurrentDictionary<int, Process> Running = new();
    private readonly Process _process;
    private readonly ConcurrentQueue<string> _output = new();

    static ManagedProcess()
    {
        AppDomain.CurrentDomain.ProcessExit += (_, _) =>
        {
            foreach (var process in Running.Values)
            {
                try
                {
                    process.Kill(entireProcessTree: true);
                }
                catch (InvalidOperationException)
                {
                    // Already gone.
                }
            }
        };
    }

    private ManagedProcess(string name, Process process)
    {
        Name = name;
        _process = process;
    }

    /// <summary>Name used in messages.</summary>
    public string Name { get; }

    /// <summary>Whether the process has ended.</summary>
    public bool HasExited => _process.HasExited;

    /// <summary>
    /// The exit code once the process has ended: 0 after a graceful stop, 137 (128 + SIGKILL) when it was killed.
    /// </summary>
    public int? ExitCode => _process.HasExited ? _process.ExitCode : null;

    /// <summary>
    /// Starts <paramref name="fileOrDll"/> (a <c>.dll</c> runs under <c>dotnet</c>, from its own folder so it finds its
    /// appsettings.json) with <paramref name="args"/> and extra environment variables.
    /// </summary>
    public static ManagedProcess Start(string name, string fileOrDll, IEnumerable<string> args, IDictionary<string, string>? environment = null)
    {
        var isDll = fileOrDll.EndsWith(".dll", StringComparison.OrdinalIgnoreCase);
        var info = new ProcessStartInfo(isDll ? "dotnet" : fileOrDll)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            WorkingDirectory = isDll ? Path.GetDirectoryName(fileOrDll)! : Environment.CurrentDirectory,
        };
        if (isDll)
        {
            info.ArgumentList.Add(fileOrDll);
        }

        foreach (var arg in args)
        {
            info.ArgumentList.Add(arg);
        }

        info.Environment["DOTNET_gcServer"] = "0"; // many small processes on a 2-core machine
        foreach (var (key, value) in environment ?? new Dictionary<string, string>())
        {
            info.Environment[key] = value;
        }

        var process = new Process { StartInfo = info, EnableRaisingEvents = true };
        var managed = new ManagedProcess(name, process);
        process.OutputDataReceived += (_, e) => managed.Keep(e.Data);
        process.ErrorDataReceived += (_, e) => managed.Keep(e.Data);
        if (!process.Start())
        {
            throw new InvalidOperationException($"Could not start {name} ({fileOrDll}).");
        }

        Running[process.Id] = process;
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        return managed;
    }

    /// <summary>The last lines the process wrote (stdout and stderr).</summary>
    public string RecentOutput() => string.Join('\n', _output);

    /// <summary>SIGKILL, as <c>kill -9</c>: no shutdown code runs.</summary>
    public void KillHard()
    {
        try
        {
            _process.Kill(entireProcessTree: true);
        }
        catch (InvalidOperationException)
        {
            // Already gone.
        }
    }

    /// <summary>Waits for the process to end.</summary>
    public Task WaitForExitAsync(CancellationToken cancellationToken = default) => _process.WaitForExitAsync(cancellationToken);

    /// <summary>SIGSTOP: the process stops running until <see cref="ResumeAsync"/>, as in a long GC pause or a starved container.</summary>
    public Task PauseAsync() => SignalAsync("STOP");

    /// <summary>SIGCONT after <see cref="PauseAsync"/>.</summary>
    public Task ResumeAsync() => SignalAsync("CONT");

    /// <summary>SIGTERM (graceful shutdown), then SIGKILL if it has not ended within <paramref name="grace"/>.</summary>
    public async Task StopAsync(TimeSpan grace)
    {
        if (!_process.HasExited)
        {
            await SignalAsync("TERM");
            await SignalAsync("CONT"); // a paused process handles the TERM only once it runs again

            using var timeout = new CancellationTokenSource(grace);
            try
            {
                await _process.WaitForExitAsync(timeout.Token);
            }
            catch (OperationCanceledException)
            {
                KillHard();
                await _process.WaitForExitAsync();
            }
        }

        Running.TryRemove(_process.Id, out _);
    }

    private async Task SignalAsync(string signal)
    {
        if (_process.HasExited)
        {
            return;
        }

        using var kill = Process.Start("kill", [$"-{signal}", _process.Id.ToString(System.Globalization.CultureInfo.InvariantCulture)]);
        await kill.WaitForExitAsync();
    }

    /// <inheritdoc />
    public async ValueTask DisposeAsync()
    {
        await StopAsync(TimeSpan.FromSeconds(5));
        _process.Dispose();
    }

    private void Keep(string? line)
    {
        if (line is null)
        {
            return;
        }

        _output.Enqueue(line);
        while (_output.Count > KeptLines && _output.TryDequeue(out _))
        {
        }
    }
}
