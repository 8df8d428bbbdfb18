using System.Collections.Concurrent;
using System.Diagnostics;

namespace Distributed.Topology;

/// <summary>
/// A real child process (a host dll run with <c>dotnet</c>, or any executable) with its output kept: its last lines in
/// memory for failure messages, the whole in a file when <see cref="ProcessLogs.Folder"/> is set. Every started process
/// is killed when the test process exits, so a crashed run leaves no orphans.
/// </summary>
public sealed class ManagedProcess : IAsyncDisposable
{
    private const int KeptLines = 400;
    private static readonly ConcurrentDictionary<int, Process> Running = new();
    private static readonly ConcurrentQueue<ManagedProcess> All = new();
    private readonly Process _process;
    private readonly ConcurrentQueue<(long Line, string Text)> _output = new();
    private readonly Lock _fileGate = new();
    private StreamWriter? _file;
    private int _openStreams = 2;
    private int? _disposedExitCode; // the Process object answers nothing once disposed

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
        LogFile = ProcessLogs.NewFile(name);
        if (LogFile is not null)
        {
            _file = new StreamWriter(LogFile, append: false) { AutoFlush = true };
        }
    }

    /// <summary>Name used in messages.</summary>
    public string Name { get; }

    /// <summary>The file holding all its output, or <c>null</c> when <see cref="ProcessLogs.Folder"/> is not set.</summary>
    public string? LogFile { get; }

    /// <summary>Every process started in this process so far, in start order.</summary>
    internal static IEnumerable<ManagedProcess> Started => All;

    /// <summary>Whether the process has ended.</summary>
    public bool HasExited => _disposedExitCode is not null || _process.HasExited;

    /// <summary>
    /// The exit code once the process has ended: 0 after a graceful stop, 137 (128 + SIGKILL) when it was killed.
    /// </summary>
    public int? ExitCode => _disposedExitCode ?? (_process.HasExited ? _process.ExitCode : null);

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
            managed.CloseFile();
            throw new InvalidOperationException($"Could not start {name} ({fileOrDll}).");
        }

        Running[process.Id] = process;
        All.Enqueue(managed);
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        return managed;
    }

    /// <summary>The last lines the process wrote (stdout and stderr).</summary>
    public string RecentOutput() => string.Join('\n', _output.Select(o => o.Text));

    /// <summary>The kept lines written after <paramref name="mark"/> (<see cref="ProcessLogs.Mark"/>).</summary>
    internal IReadOnlyList<string> OutputSince(long mark) => [.. _output.Where(o => o.Line > mark).Select(o => o.Text)];

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
        if (_disposedExitCode is not null)
        {
            return;
        }

        await StopAsync(TimeSpan.FromSeconds(5));
        _disposedExitCode = _process.ExitCode;
        _process.Dispose();
        CloseFile();
    }

    private void Keep(string? line)
    {
        if (line is null)
        {
            // The end of stdout or stderr: the file closes after both.
            if (Interlocked.Decrement(ref _openStreams) == 0)
            {
                CloseFile();
            }

            return;
        }

        _output.Enqueue((ProcessLogs.NextLine(), line));
        while (_output.Count > KeptLines && _output.TryDequeue(out _))
        {
        }

        lock (_fileGate)
        {
            _file?.WriteLine(line);
        }
    }

    private void CloseFile()
    {
        lock (_fileGate)
        {
            _file?.Dispose();
            _file = null;
        }
    }
}
