using System.Globalization;
using System.Text;

namespace Distributed.Topology;

/// <summary>
/// Where the output of every <see cref="ManagedProcess"/> goes: the last lines in memory (for failure messages and for
/// <see cref="Since"/>) and, when <see cref="Folder"/> is set, the whole of it in one file per process.
/// </summary>
public static class ProcessLogs
{
    /// <summary>
    /// The environment variable naming the folder for the log files; <c>./test.sh</c> sets it per test project
    /// (<c>TestResults/&lt;project&gt;/processes</c>).
    /// </summary>
    public const string FolderVariable = "DISTRIBUTED_PROCESS_LOGS";

    private static long _lines;
    private static int _files;

    /// <summary>
    /// The folder that receives one log file per started process (<c>0001-silo1.log</c>, numbered in start order, so a
    /// restarted member gets a new file); <c>null</c> keeps output in memory only. <value>Default: the value of
    /// <see cref="FolderVariable"/>.</value>
    /// </summary>
    public static string? Folder { get; set; } = Environment.GetEnvironmentVariable(FolderVariable) is { Length: > 0 } folder ? folder : null;

    /// <summary>A mark in the output of all processes: <see cref="Since"/> returns what was written after it.</summary>
    public static long Mark() => Interlocked.Read(ref _lines);

    /// <summary>
    /// What every process started by this one wrote after <paramref name="mark"/>, process by process: at most the last
    /// <paramref name="linesPerProcess"/> lines of each, with the file holding the whole; empty when nothing was written.
    /// </summary>
    public static string Since(long mark, int linesPerProcess = 200) => Collect(ManagedProcess.Started, mark, linesPerProcess);

    /// <summary>
    /// The last <paramref name="linesPerProcess"/> lines of every process still running, whenever written: the state of a
    /// topology that wrote nothing during a test (its processes log little at Information while all is well).
    /// </summary>
    public static string LastOfRunning(int linesPerProcess = 20) =>
        Collect(ManagedProcess.Started.Where(p => !p.HasExited), mark: 0, linesPerProcess);

    internal static long NextLine() => Interlocked.Increment(ref _lines);

    internal static string? NewFile(string name)
    {
        if (Folder is not { } folder)
        {
            return null;
        }

        Directory.CreateDirectory(folder);
        var safe = string.Concat(name.Select(c => char.IsAsciiLetterOrDigit(c) || c is '-' or '_' or '.' ? c : '-'));
        return Path.Combine(folder, $"{Interlocked.Increment(ref _files).ToString("D4", CultureInfo.InvariantCulture)}-{safe}.log");
    }

    private static string Collect(IEnumerable<ManagedProcess> processes, long mark, int linesPerProcess)
    {
        var text = new StringBuilder();
        foreach (var process in processes)
        {
            var lines = process.OutputSince(mark);
            if (lines.Count > 0)
            {
                Append(text, process, lines, linesPerProcess);
            }
        }

        return text.ToString();
    }

    private static void Append(StringBuilder text, ManagedProcess process, IReadOnlyList<string> lines, int linesPerProcess)
    {
        var state = process.ExitCode is { } code ? $"exited with code {code}" : "running";
        var file = process.LogFile is { } path ? $", whole log: {Shorten(path)}" : "";
        text.Append(CultureInfo.InvariantCulture, $"--- {process.Name} ({state}{file})\n");
        if (lines.Count > linesPerProcess)
        {
            text.Append(CultureInfo.InvariantCulture, $"    [{lines.Count - linesPerProcess} earlier lines left out]\n");
        }

        foreach (var line in lines.Skip(Math.Max(0, lines.Count - linesPerProcess)))
        {
            text.Append(line).Append('\n');
        }
    }

    // Relative to the repository when the file lies in it (TestResults/...), so failure output stays readable.
    private static string Shorten(string path)
    {
        try
        {
            var relative = Path.GetRelativePath(RepoPaths.Root, path);
            return relative.StartsWith("..", StringComparison.Ordinal) ? path : relative;
        }
        catch (DirectoryNotFoundException)
        {
            return path;
        }
    }
}
